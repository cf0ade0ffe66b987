-- name: null_qq
-- description: QQ plot data of held-out null p-values per set family: each expected uniform quantile (log-spaced from 1/n to 1) with the observed p at that quantile; on the diagonal when p_calibrated is calibrated.
-- param: model MODEL = NULL  only this model (default: every model)
-- param: family VARCHAR = NULL  only this set family (e.g. 'letters', 'regex', 'word_list')
-- param: points INTEGER = 60  quantiles per family, log-spaced
-- param: limit INTEGER = 5000  most rows to return
WITH pooled AS (
    SELECT model_name, set_family, list(p ORDER BY p) AS ps
    FROM null_holdout_p
    WHERE (:model IS NULL OR model_name = :model) AND (:family IS NULL OR set_family = :family)
    GROUP BY model_name, set_family
), grid AS (
    -- expected quantile i/n at log-spaced ranks i from 1 to n (distinct ranks only)
    SELECT DISTINCT model_name, set_family, len(ps) AS n,
           greatest(1, least(len(ps), round(exp(ln(len(ps)) * g.j / greatest(:points - 1, 1)))::BIGINT)) AS rank_i
    FROM pooled, range(0, greatest(:points, 2)) AS g(j)
)
SELECT g.model_name, g.set_family, g.n AS n_p, g.rank_i / g.n AS expected_p, p.ps[g.rank_i] AS observed_p
FROM grid AS g
JOIN pooled AS p ON p.model_name = g.model_name AND p.set_family = g.set_family
ORDER BY g.model_name, g.set_family, expected_p
LIMIT :limit
