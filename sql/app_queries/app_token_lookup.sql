-- name: app_token_lookup
-- description: Tokens whose text matches a search, exactly or ignoring case and surrounding spaces (' paris' finds ' Paris' and 'Paris'), with the token sets each is in: the app's token search.
-- param: text VARCHAR = NULL  the text to look up (no rows when not given)
-- param: model MODEL = NULL  only this model's vocabulary
-- param: limit INTEGER = 50  most rows to return
WITH matches AS (
    SELECT model_name, token_id, token, raw, token = :text AS exact
    FROM tokens
    WHERE (:model IS NULL OR model_name = :model)
      AND lower(trim(token)) = lower(trim(:text))
), memberships AS (
    SELECT m.model_name, m.token_id, list(ts.name ORDER BY ts.family, ts.name) AS sets
    FROM matches AS m
    JOIN token_set_members AS tsm ON tsm.token_id = m.token_id
    JOIN token_sets AS ts ON ts.set_id = tsm.set_id AND ts.model_name = m.model_name
    GROUP BY m.model_name, m.token_id
)
SELECT m.model_name, m.token_id, m.token, m.raw, m.exact, coalesce(ms.sets, []::VARCHAR[]) AS sets
FROM matches AS m
LEFT JOIN memberships AS ms ON ms.model_name = m.model_name AND ms.token_id = m.token_id
ORDER BY m.exact DESC, m.model_name, m.token_id
LIMIT :limit
