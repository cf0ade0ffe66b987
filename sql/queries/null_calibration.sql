-- name: null_calibration
-- description: How calibrated p_calibrated is: per model and set family, the fraction of held-out random directions' p-values below 0.01, 0.001 and 1e-4, observed over nominal (1.0 is perfect).
-- param: model MODEL = NULL  only this model (default: every model)
-- param: limit INTEGER = 1000  most rows to return
SELECT model_name, set_family, count(DISTINCT set_id) AS n_sets, count(*) AS n_p,
       count(*) FILTER (WHERE p < 0.01) AS below_1e_2,
       count(*) FILTER (WHERE p < 0.01) / (count(*) * 0.01) AS ratio_1e_2,
       count(*) FILTER (WHERE p < 0.001) AS below_1e_3,
       count(*) FILTER (WHERE p < 0.001) / (count(*) * 0.001) AS ratio_1e_3,
       count(*) FILTER (WHERE p < 0.0001) AS below_1e_4,
       count(*) FILTER (WHERE p < 0.0001) / (count(*) * 0.0001) AS ratio_1e_4
FROM null_holdout_p
WHERE (:model IS NULL OR model_name = :model)
GROUP BY model_name, set_family
ORDER BY model_name, set_family
LIMIT :limit
