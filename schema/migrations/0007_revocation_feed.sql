-- Revocations travel to nodes through the change feed since 0006's release; those made before it
-- get their feed rows now, so a node past its first pull learns of them on its next one.
INSERT INTO `changes` (`kind`, `key`, `node`, `at`) SELECT 'revocation', `approval_id`, NULL, `revoked_at` FROM `approval_revocations` ORDER BY `revoked_at`;
