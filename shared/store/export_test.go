package store

// OlderWriter makes s write as ndrtrace did before perSlot was 256: each
// bucket one level higher for the same count (see readTop).
func OlderWriter(s *Store) { s.perSlot = oldPerSlot }
