import numpy as np

from ingest.tables import enrichment_table


def test_enrichment_rows_are_set_major_and_carry_the_right_values():
    rng = np.random.default_rng(0)
    d_sae, set_ids = 5, np.array([7, 3, 11])
    d = rng.random((d_sae, 3))
    direction = rng.choice([-1, 1], (d_sae, 3)).astype(np.int8)
    p_value, p_null, q_value = rng.random((3, d_sae, 3))
    rows = enrichment_table(d, direction, p_value, p_null, q_value, set_ids).to_pandas()
    assert rows["set_id"].tolist() == [7] * 5 + [3] * 5 + [11] * 5
    assert rows["feature"].tolist() == list(range(5)) * 3
    column_of = {7: 0, 3: 1, 11: 2}
    for row in rows.itertuples():
        column = column_of[row.set_id]
        assert row.d == np.float32(d[row.feature, column])
        assert row.direction == direction[row.feature, column]
        assert (row.p_value, row.p_null, row.q_value) == (
            p_value[row.feature, column],
            p_null[row.feature, column],
            q_value[row.feature, column],
        )
