CREATE TABLE `calendar_day_versions` (
	`date` text NOT NULL,
	`superseded_at` text NOT NULL,
	`kind` text,
	`name` text,
	PRIMARY KEY(`date`, `superseded_at`)
);
--> statement-breakpoint
CREATE INDEX `calendar_day_versions_superseded_idx` ON `calendar_day_versions` (`superseded_at`);--> statement-breakpoint
CREATE TABLE `service_item_versions` (
	`code` text NOT NULL,
	`superseded_at` text NOT NULL,
	`row` text NOT NULL,
	PRIMARY KEY(`code`, `superseded_at`)
);
--> statement-breakpoint
ALTER TABLE `node_contacts` ADD `last_pull_at` text;