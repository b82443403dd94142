CREATE TABLE `calendar_day_versions` (
	`date` text NOT NULL,
	`superseded_seq` integer NOT NULL,
	`kind` text,
	`name` text,
	PRIMARY KEY(`date`, `superseded_seq`)
);
--> statement-breakpoint
CREATE INDEX `calendar_day_versions_superseded_idx` ON `calendar_day_versions` (`superseded_seq`);--> statement-breakpoint
CREATE TABLE `service_item_versions` (
	`code` text NOT NULL,
	`superseded_seq` integer NOT NULL,
	`row` text NOT NULL,
	PRIMARY KEY(`code`, `superseded_seq`)
);
--> statement-breakpoint
ALTER TABLE `node_contacts` ADD `last_pull_at` text;--> statement-breakpoint
ALTER TABLE `node_contacts` ADD `pulled_cursor` integer;--> statement-breakpoint
ALTER TABLE `node_contacts` ADD `push_since_pull_at` text;