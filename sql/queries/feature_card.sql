-- name: feature_card
-- description: Everything stored about one feature: its SAE and layer, Neuronpedia URL, density, logit-weight moments, and top and bottom tokens as text with their weights.
-- param: sae SAE  the feature's SAE id
-- param: feature FEATURE  the feature's index in that SAE
-- param: limit INTEGER = 1  most rows to return
SELECT *
FROM feature_overview
WHERE sae_id = :sae AND feature = :feature
LIMIT :limit
