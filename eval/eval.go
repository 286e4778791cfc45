// Package eval holds Vigil's benchmark harnesses against public datasets.
//
// The parsing harness ([ParseEval]) runs the template miner of package
// logtemplate over every system of a Loghub-2k style folder and scores it
// with the metrics of the Loghub-2.0 evaluator (grouping accuracy GA, parsing
// accuracy PA, and the F1 scores FGA and FTA), replicated from its Python
// source so that our figures are comparable with published ones.
//
// Key invariant: a harness never lets the parser see the labels. Only the
// input column (Content) reaches the miner; the ground truth is read after
// mining, for scoring alone.
package eval
