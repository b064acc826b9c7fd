//go:build unix

package safefile

import (
	"errors"
	"os"
	"syscall"
)

// O_NONBLOCK makes open return at once on a FIFO with no writer (the
// descriptor is then refused as not regular); it has no effect on reads
// of a regular file. O_NOFOLLOW makes the open fail on a link.
func openFlags(noFollow bool) int {
	fl := os.O_RDONLY | syscall.O_NONBLOCK
	if noFollow {
		fl |= syscall.O_NOFOLLOW
	}
	return fl
}

func isLinkRefusal(err error) bool { return errors.Is(err, syscall.ELOOP) }

func noFollow() int { return syscall.O_NOFOLLOW }
