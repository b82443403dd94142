CREATE TABLE `approval_revocations` (
	`approval_id` text PRIMARY KEY NOT NULL,
	`reason` text NOT NULL,
	`revoked_at` text NOT NULL,
	`revoked_by` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `approvals` (
	`id` text PRIMARY KEY NOT NULL,
	`case_no` text NOT NULL,
	`token` text NOT NULL,
	`kid` text NOT NULL,
	`issuer` text NOT NULL,
	`licence_id` text,
	`issued_at` text NOT NULL,
	`expires_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `approvals_case_idx` ON `approvals` (`case_no`);--> statement-breakpoint
CREATE TABLE `delegations` (
	`id` text PRIMARY KEY NOT NULL,
	`node` text NOT NULL,
	`token` text NOT NULL,
	`items` text NOT NULL,
	`valid_from` text NOT NULL,
	`valid_until` text NOT NULL,
	`issued_at` text NOT NULL
);
