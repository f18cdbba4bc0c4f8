package mirrorfiles

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/bandercheck/bandercheck/internal/store"
)

// Write puts each output into the mirror, each one atomically (the store's
// Upload is visible only on Commit, as bandersnatch's rewrite renames a
// temp file). An output bandersnatch writes with update_safe (status,
// generation, web/last-modified) is left alone when the mirror already
// holds the same bytes, as update_safe keeps an unchanged file.
func Write(ctx context.Context, w store.Writer, outs ...Output) error {
	for _, o := range outs {
		if o.UpdateSafe {
			sum := sha256.Sum256(o.Data)
			same, err := w.Present(ctx, o.Path, int64(len(o.Data)), hex.EncodeToString(sum[:]))
			if err != nil {
				return fmt.Errorf("write %s: %w", o.Path, err)
			}
			if same {
				continue
			}
		}
		up, err := w.Create(ctx, o.Path, store.Meta{})
		if err != nil {
			return fmt.Errorf("write %s: %w", o.Path, err)
		}
		if _, err := up.Write(o.Data); err != nil {
			return errors.Join(fmt.Errorf("write %s: %w", o.Path, err), up.Abort())
		}
		if err := up.Commit(ctx); err != nil {
			return fmt.Errorf("write %s: %w", o.Path, err)
		}
	}
	return nil
}
