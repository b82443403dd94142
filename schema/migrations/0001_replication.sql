CREATE TABLE `changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`key` text NOT NULL,
	`node` text,
	`at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `changes_node_idx` ON `changes` (`node`,`seq`);--> statement-breakpoint
CREATE TABLE `conflicts` (
	`origin` text NOT NULL,
	`seq` integer NOT NULL,
	`case_no` text NOT NULL,
	`type` text NOT NULL,
	`node` text NOT NULL,
	`reason` text NOT NULL,
	`detected_at` text NOT NULL,
	`resolved_at` text,
	PRIMARY KEY(`origin`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `conflicts_node_idx` ON `conflicts` (`node`);--> statement-breakpoint
CREATE TABLE `divergences` (
	`origin` text NOT NULL,
	`seq` integer NOT NULL,
	`held_hash` text NOT NULL,
	`received_hash` text NOT NULL,
	`received` text NOT NULL,
	`detected_at` text NOT NULL,
	PRIMARY KEY(`origin`, `seq`, `received_hash`)
);
--> statement-breakpoint
CREATE TABLE `node_contacts` (
	`code` text PRIMARY KEY NOT NULL,
	`last_contact_at` text NOT NULL,
	`reported_head_seq` integer NOT NULL,
	`skew_ms` integer NOT NULL,
	`last_push_at` text
);
--> statement-breakpoint
CREATE TABLE `sync_batches` (
	`node` text NOT NULL,
	`batch_id` text NOT NULL,
	`sent_at` text NOT NULL,
	`received_at` text NOT NULL,
	`events` integer NOT NULL,
	PRIMARY KEY(`node`, `batch_id`)
);
