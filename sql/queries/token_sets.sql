-- name: token_sets
-- description: The token sets in the catalog with their family, size and definition, and the words of word lists that were not a single token.
-- param: family VARCHAR = NULL  only this family (e.g. 'letters', 'regex', 'nltk_pos', 'names', 'word_list', 'user')
-- param: model MODEL = NULL  only sets of this model
-- param: limit INTEGER = 10000  most rows to return
SELECT set_id, model_name, name, family, size, definition, len(dropped_words) AS n_dropped_words, dropped_words
FROM token_sets
WHERE (:family IS NULL OR family = :family)
  AND (:model IS NULL OR model_name = :model)
ORDER BY model_name, family, name
LIMIT :limit
