CREATE TABLE `case_write_guard` (
	`stale` integer NOT NULL,
	CONSTRAINT "case_version_guard" CHECK(stale = 0)
);
--> statement-breakpoint
ALTER TABLE `cases` ADD `version` integer DEFAULT 0 NOT NULL;