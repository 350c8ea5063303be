//go:build !linux

package privdrop

// Drop returns ErrNotSupported: capabilities are a Linux feature.
func Drop(keep []int) error { return ErrNotSupported }
