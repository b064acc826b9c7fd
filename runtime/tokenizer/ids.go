package tokenizer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// ParseIDs reads ids separated by white space or commas, or one JSON array.
func ParseIDs(src string) ([]int, error) {
	s := strings.TrimSpace(src)
	if strings.HasPrefix(s, "[") {
		var ids []int
		if err := json.Unmarshal([]byte(s), &ids); err != nil {
			return nil, fmt.Errorf("ids: not a JSON array of integers: %w", err)
		}
		return ids, nil
	}
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	ids := make([]int, 0, len(fields))
	for _, f := range fields {
		id, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("ids: %q is not an integer", f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
