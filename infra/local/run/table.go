package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ALERT\tPUBLIC TUPLE (as the detector saw it)\tSTATUS\tPRIVATE ENDPOINT\tINSTANCE\tWAIT\tNOTE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.tuple, r.status, r.endpoint, r.instance, r.wait, r.note)
	}
	tw.Flush()
}
