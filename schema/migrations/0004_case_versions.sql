CREATE TABLE `case_versions` (
	`case_no` text NOT NULL,
	`version` integer NOT NULL,
	PRIMARY KEY(`case_no`, `version`)
);
--> statement-breakpoint
ALTER TABLE `cases` ADD `version` integer DEFAULT 0 NOT NULL;