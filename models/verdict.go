package models

// Verdict is the one-word answer of a verification, aligned with the EU FMD
// alert codes and the DSCSA VRS failure reasons.
type Verdict string
