//go:build !unix

package safefile

import "os"

func openFlags(bool) int       { return os.O_RDONLY }
func isLinkRefusal(error) bool { return false }

func noFollow() int { return 0 }
