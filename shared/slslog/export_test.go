package slslog

// The page sizing, for the tests of the external package.
const (
	PageGroups = pageGroups
	PageBytes  = pageBytes
	FirstCount = firstCount
)

var NextCount = nextCount
