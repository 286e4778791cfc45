package chart

import (
	"image"
	"image/color"
)

// glyphs is a 3x5 pixel font for axis labels: digits and the few symbols
// numbers and times need. Unknown characters draw as blanks; the standard
// library has no font, and labels need no more than this.
var glyphs = map[rune][5]string{
	'0': {"###", "#.#", "#.#", "#.#", "###"},
	'1': {".#.", "##.", ".#.", ".#.", "###"},
	'2': {"###", "..#", "###", "#..", "###"},
	'3': {"###", "..#", ".##", "..#", "###"},
	'4': {"#.#", "#.#", "###", "..#", "..#"},
	'5': {"###", "#..", "###", "..#", "###"},
	'6': {"###", "#..", "###", "#.#", "###"},
	'7': {"###", "..#", ".#.", ".#.", ".#."},
	'8': {"###", "#.#", "###", "#.#", "###"},
	'9': {"###", "#.#", "###", "..#", "###"},
	'.': {"...", "...", "...", "...", ".#."},
	'-': {"...", "...", "###", "...", "..."},
	'+': {"...", ".#.", "###", ".#.", "..."},
	':': {"...", ".#.", "...", ".#.", "..."},
	'e': {"...", "###", "##.", "#..", "###"},
	'k': {"#..", "#.#", "##.", "#.#", "#.#"},
	'M': {"#.#", "###", "###", "#.#", "#.#"},
	'G': {"###", "#..", "#.#", "#.#", "###"},
}

// textWidth is the width in pixels of n characters.
func textWidth(n int) int { return n * 4 }

// drawText draws s with its top-left corner at (x, y).
func drawText(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, r := range s {
		if g, ok := glyphs[r]; ok {
			for row, bits := range g {
				for col, bit := range bits {
					if bit == '#' {
						img.SetRGBA(x+col, y+row, c)
					}
				}
			}
		}
		x += textWidth(1)
	}
}
