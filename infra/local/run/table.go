package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// printTable prints traced alerts, with their account and region when
// withAccount.
func printTable(w io.Writer, rows []row, withAccount bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	acct := func(r row) string {
		if !withAccount {
			return ""
		}
		return r.account + "\t" + r.region + "\t"
	}
	head := "ALERT\tPUBLIC TUPLE (as the detector saw it)\tSTATUS\tPRIVATE ENDPOINT\tINSTANCE\t"
	if withAccount {
		head += "ACCOUNT\tREGION\t"
	}
	fmt.Fprintln(tw, head+"WAIT\tNOTE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s%s\t%s\n", r.name, r.tuple, r.status, r.endpoint, r.instance, acct(r), r.wait, r.note)
	}
	tw.Flush()
}
