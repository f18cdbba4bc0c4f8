// Package pipeline holds the core of bandercheck: sharded zstd CSV manifests,
// stage state with checkpoints and resume, the run record, external sorting,
// and the merge-join that turns what is stored and what should be stored into
// a plan.
//
// A manifest is a folder under the state directory holding shards
// (000001.csv.zst …), each one complete zstd frame of RFC 4180 CSV with a
// header row, a _shards.jsonl journal that lists the shards (one line each,
// appended at each commit) and a _stage.json that records how many of its
// lines are committed, with the state, rows and cursor.
// A stage writes one or more manifests that are committed together, so that
// after a kill every manifest of the stage ends at the same cursor.
package pipeline
