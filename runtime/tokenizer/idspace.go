package tokenizer

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// The id space of a tokenizer.json: the vocab's ids and the added tokens'.
// HF's tables (token text, bytes, special flag) are indexed by id and so
// sized by the largest one, which a hostile file chooses: a 1 KB file with
// the id 2000000000 would cost 80 GB of tables, and 2⁶³-1 overflows the
// size. So the ids are read and checked here, before anything is sized by
// them:
//
//   - an id is a JSON integer (not 1.5, not 1e3, not "7"), not negative,
//     and fits in 32 bits (the BPE model keeps ids as int32);
//   - the largest id is at most 2×entries + 1024, entries being the vocab's
//     tokens and the added tokens. Real tokenizers are dense (DeepSeek-V3:
//     128815 ids for 128818 entries), and the slack admits ids reserved
//     without a token; past it, the tables would cost more than the file
//     that asks for them by a factor no real tokenizer needs.
const idSlack = 1024

// jsonID is an id as the file writes it. It is read as the JSON is
// decoded, so that a vocab of many thousand ids costs no allocation per id,
// and checked by checkIDs, which knows the token to name in an error.
type jsonID struct {
	n       int64
	present bool
	bad     string // the literal, cut short, when it is no int64
	tooBig  bool   // bad is an integer past the int64 range
}

func (j *jsonID) UnmarshalJSON(b []byte) error {
	j.present = true
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		lit, cut := clip(string(b), 40)
		if cut {
			lit += "…"
		}
		j.bad, j.tooBig = lit, errors.Is(err, strconv.ErrRange)
	}
	j.n = n
	return nil
}

// check returns the id, or why it is none.
func (j jsonID) check() (int, error) {
	switch {
	case !j.present:
		return 0, errors.New("no id")
	case j.tooBig:
		return 0, fmt.Errorf("id %s does not fit in 32 bits", j.bad)
	case j.bad != "":
		return 0, fmt.Errorf("id %s is not an integer", strconv.Quote(j.bad))
	case j.n < 0:
		return 0, fmt.Errorf("negative id %d", j.n)
	case j.n > math.MaxInt32:
		return 0, fmt.Errorf("id %d does not fit in 32 bits", j.n)
	}
	return int(j.n), nil
}

// fileAddedToken is an added token as the file writes it. (The outer ID
// hides addedToken's, as encoding/json gives the shallower field the key.)
type fileAddedToken struct {
	addedToken
	ID jsonID `json:"id"`
}

// maxAddedToken bounds an added token's content in bytes.
const maxAddedToken = 1024

// checkIDs returns the vocab with its ids checked, the added tokens, and
// one more than the largest id.
func checkIDs(rawVocab map[string]jsonID, rawAdded []fileAddedToken) (map[string]int, []addedToken, int, error) {
	largest := -1
	largestTok, largestAdded := "", -1 // where the largest id is
	vocab := make(map[string]int, len(rawVocab))
	for tok, raw := range rawVocab {
		id, err := raw.check()
		if err != nil {
			return nil, nil, 0, fmt.Errorf("vocab: token %s: %w", quoteTrunc(tok, 40), err)
		}
		vocab[tok] = id
		if id > largest {
			largest, largestTok = id, tok
		}
	}
	added := make([]addedToken, len(rawAdded))
	for i, a := range rawAdded {
		id, err := a.ID.check()
		if err != nil {
			return nil, nil, 0, fmt.Errorf("added_tokens[%d] %s: %w", i, quoteTrunc(a.Content, 40), err)
		}
		if a.Content == "" {
			return nil, nil, 0, fmt.Errorf("added_tokens[%d]: id %d has empty content", i, id)
		}
		// Added tokens are matched at every position of the text, so
		// matching costs the text's length times the longest one:
		// DeepSeek-V3's longest is 33 bytes.
		if len(a.Content) > maxAddedToken {
			return nil, nil, 0, fmt.Errorf("added_tokens[%d] %s: %d bytes; an added token may hold at most %d", i, quoteTrunc(a.Content, 40), len(a.Content), maxAddedToken)
		}
		added[i] = a.addedToken
		added[i].ID = id
		if id > largest {
			largest, largestAdded = id, i
		}
	}
	entries := len(rawVocab) + len(rawAdded)
	if limit := 2*entries + idSlack; largest > limit {
		where := "vocab: token " + quoteTrunc(largestTok, 40)
		if largestAdded >= 0 {
			where = fmt.Sprintf("added_tokens[%d] %s", largestAdded, quoteTrunc(added[largestAdded].Content, 40))
		}
		return nil, nil, 0, fmt.Errorf("%s: id %d is far above the file's %d tokens: ids may run to 2×%d+%d = %d (tables are sized by the largest id)",
			where, largest, entries, entries, idSlack, limit)
	}
	return vocab, added, largest + 1, nil
}
