package cloud

// maxPages stops a misbehaving pager (a token or page that never ends)
// from looping forever.
const maxPages = 10000

// morePages decides whether a PageNumber/PageSize listing continues after a
// page that returned got items, seen in total so far. TotalCount is trusted
// when the service reports it; otherwise a short page is the last one.
func morePages(page, got, seen, requested, total int) bool {
	switch {
	case got == 0 || page >= maxPages:
		return false
	case total > 0:
		return seen < total
	default:
		return got >= requested
	}
}

// moreTokens decides whether a NextToken listing continues.
func moreTokens(page int, prev, next string) bool {
	return next != "" && next != prev && page < maxPages
}
