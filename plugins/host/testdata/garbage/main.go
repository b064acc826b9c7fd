// Command garbage is a test fixture: a program that prints something other
// than the go-plugin handshake, then waits.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	fmt.Println("Hello! I am definitely a plugin, trust me.")
	fmt.Fprintln(os.Stderr, "garbage fixture: said hello")
	time.Sleep(time.Hour)
}
