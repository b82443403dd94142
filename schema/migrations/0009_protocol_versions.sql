CREATE TABLE `pulled_flags` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`key` text NOT NULL,
	`case_no` text,
	`reason` text NOT NULL,
	`item` text NOT NULL,
	`cursor` integer NOT NULL,
	`flagged_at` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `node_contacts` ADD `protocol_version` integer;