package correlate

import "github.com/vigilops/vigil/api"

// The correlator is what the API's incident routes call.
var _ api.IncidentService = (*Correlator)(nil)
