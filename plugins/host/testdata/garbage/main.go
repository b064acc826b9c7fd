// Command garbage is a test fixture: a program that prints something other
// than the go-plugin handshake, then waits.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	// stderr first: by the time deepc reads the bad line, this is written
	// (and deepc collects a plugin's stderr until it exits).
	fmt.Fprintln(os.Stderr, "garbage fixture: saying hello")
	fmt.Println("Hello! I am definitely a plugin, trust me.")
	time.Sleep(time.Hour)
}
