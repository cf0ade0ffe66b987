-- Schema version 3 -> 4: how each SAE reaches the logits (hook kind, the mapping applied) and its
-- position within its model. (Filled in by the hook-kinds work of issue 11.)
SELECT 1;
