// Reads an OVF environment document on stdin with VMware's own parser (github.com/vmware/vmw-ovflib, Debian's
// golang-github-vmware-vmw-ovflib-dev) and prints its properties as one JSON object on stdout. A document the
// parser refuses: its error on stderr, exit 1. Built by harness/ovflib.ts in GOPATH mode, offline.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	ovf "github.com/vmware/vmw-ovflib"
)

func main() {
	doc, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "read stdin:", err)
		os.Exit(2)
	}
	env, err := ovf.ReadEnvironment(doc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ovflib:", err)
		os.Exit(1)
	}
	out, err := json.Marshal(env.Properties)
	if err != nil {
		fmt.Fprintln(os.Stderr, "json:", err)
		os.Exit(2)
	}
	fmt.Println(string(out))
}
