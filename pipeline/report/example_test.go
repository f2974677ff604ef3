package report_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/gpupipe/gpupipe/pipeline/report"
)

func ExampleRecorder() {
	rec := report.NewRecorder()
	rec.Inputs, rec.Output = []string{"photos"}, "thumbs"
	rec.Found(3)
	rec.Done()
	rec.Skipped()
	rec.Fail("photos/bad.jpg", "decode", errors.New("photos/bad.jpg: corrupt image: jpeg: truncated file"))

	rep := rec.Report(nil, nil)
	fmt.Printf("%+v\n", rep.Counts)
	fmt.Printf("%+v\n", rep.Failures)

	f, _ := os.CreateTemp("", "report-*.json")
	f.Close()
	defer os.Remove(f.Name())
	fmt.Println(rep.WriteFile(f.Name()))
	// Output:
	// {Found:3 Done:1 SkippedExisting:1 Failed:1}
	// [{Path:photos/bad.jpg Stage:decode Reason:corrupt image: jpeg: truncated file}]
	// <nil>
}
