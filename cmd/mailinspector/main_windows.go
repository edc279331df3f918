//go:build windows

// On Windows the binary is only the sandbox guest agent (a Windows guest
// image runs `mailinspector.exe agent`); the appliance runs on Linux.
package main

import (
	"fmt"
	"os"

	"mailinspector/appliance"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mailinspector agent --listen ADDR:PORT --key-file FILE | version")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "agent":
		os.Exit(agentCmd(os.Args[2:]))
	case "version", "--version":
		fmt.Println("mailinspector", appliance.Version)
	default:
		fmt.Fprintf(os.Stderr, "mailinspector: on Windows only the agent runs (%q)\n", os.Args[1])
		os.Exit(2)
	}
}
