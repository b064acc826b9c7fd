// Command silent is a test fixture: a program that never prints the
// handshake (start-up must time out).
package main

import "time"

func main() { time.Sleep(time.Hour) }
