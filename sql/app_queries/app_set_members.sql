-- name: app_set_members
-- description: The member tokens of one token set, in token id order, as decoded text and raw BPE strings.
-- param: token_set TOKEN_SET = NULL  the set's name, e.g. 'colors' (no rows when not given)
-- param: model MODEL = NULL  the model whose set it is (needed only when several models have a set of that name)
-- param: limit INTEGER = 100000  most rows to return
SELECT ts.model_name, ts.name AS set_name, m.token_id, t.token, t.raw
FROM token_sets AS ts
JOIN token_set_members AS m ON m.set_id = ts.set_id
JOIN tokens AS t ON t.model_name = ts.model_name AND t.token_id = m.token_id
WHERE ts.name = :token_set AND (:model IS NULL OR ts.model_name = :model)
ORDER BY ts.model_name, m.token_id
LIMIT :limit
