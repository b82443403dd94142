CREATE TABLE `calendar_days` (
	`date` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`name` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `calendar_years` (
	`year` integer PRIMARY KEY NOT NULL,
	`source` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `case_events` (
	`origin` text NOT NULL,
	`seq` integer NOT NULL,
	`case_no` text NOT NULL,
	`type` text NOT NULL,
	`payload` text NOT NULL,
	`actor` text NOT NULL,
	`occurred_at` text NOT NULL,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL,
	`received_at` text,
	PRIMARY KEY(`origin`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `case_events_case_idx` ON `case_events` (`case_no`);--> statement-breakpoint
CREATE UNIQUE INDEX `case_events_hash_idx` ON `case_events` (`hash`);--> statement-breakpoint
CREATE TABLE `cases` (
	`case_no` text PRIMARY KEY NOT NULL,
	`query_code` text NOT NULL,
	`origin` text NOT NULL,
	`channel` text NOT NULL,
	`item_code` text NOT NULL,
	`item_name` text NOT NULL,
	`department_code` text NOT NULL,
	`item_kind` text NOT NULL,
	`kind` text NOT NULL,
	`state` text NOT NULL,
	`applicant_name` text NOT NULL,
	`applicant_id_number` text NOT NULL,
	`applicant_phone` text NOT NULL,
	`materials` text NOT NULL,
	`missing` text NOT NULL,
	`deferred` text NOT NULL,
	`resume_state` text,
	`limit_value` integer NOT NULL,
	`limit_unit` text NOT NULL,
	`accepted_at` text,
	`deadline_at` text,
	`deadline_date` text,
	`suspensions` text NOT NULL,
	`opinions` text NOT NULL,
	`review_departments` text NOT NULL,
	`decision` text,
	`decision_reason` text,
	`decided_at` text,
	`refused_reason` text,
	`delivered_at` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `cases_state_idx` ON `cases` (`state`);--> statement-breakpoint
CREATE INDEX `cases_origin_idx` ON `cases` (`origin`);--> statement-breakpoint
CREATE INDEX `cases_deadline_idx` ON `cases` (`deadline_at`);--> statement-breakpoint
CREATE TABLE `departments` (
	`code` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`credit_code` text NOT NULL,
	`sort_order` integer DEFAULT 0 NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `nodes` (
	`code` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`public_jwk` text,
	`enrolled_at` text,
	`revoked_at` text,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `service_items` (
	`code` text PRIMARY KEY NOT NULL,
	`basic_code` text NOT NULL,
	`name` text NOT NULL,
	`department_code` text NOT NULL,
	`kind` text NOT NULL,
	`category` text NOT NULL,
	`level` integer NOT NULL,
	`content` text NOT NULL,
	`legal_basis` text NOT NULL,
	`conditions` text NOT NULL,
	`materials` text NOT NULL,
	`procedure` text NOT NULL,
	`statutory_limit_value` integer NOT NULL,
	`statutory_limit_unit` text NOT NULL,
	`promised_limit_value` integer NOT NULL,
	`promised_limit_unit` text NOT NULL,
	`fees` text NOT NULL,
	`result_type` text NOT NULL,
	`result_name` text NOT NULL,
	`complaint_channel` text NOT NULL,
	`places` text NOT NULL,
	`address` text NOT NULL,
	`online_depth` integer NOT NULL,
	`joint_departments` text NOT NULL,
	`consult_phone` text NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`department_code`) REFERENCES `departments`(`code`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `service_items_department_idx` ON `service_items` (`department_code`);--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
