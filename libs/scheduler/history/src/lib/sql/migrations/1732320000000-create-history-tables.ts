import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Version 1 of the history schema: finished tasks, request history events and finished deploys, with an
 * index for every filter of `/history/tasks` (spec §4) and for the purger's age and per-request scans.
 * Never edit a migration that has shipped: add a new one.
 */
export class CreateHistoryTables1732320000000 implements MigrationInterface {
  readonly name = 'CreateHistoryTables1732320000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE task_history (
        task_id          text COLLATE "C" NOT NULL,
        request_id       text COLLATE "C" NOT NULL,
        deploy_id        text COLLATE "C" NOT NULL,
        run_id           text COLLATE "C",
        host             text COLLATE "C" NOT NULL,
        last_task_status text,
        started_at       bigint NOT NULL,
        updated_at       bigint NOT NULL,
        task_history     jsonb,
        CONSTRAINT pk_task_history PRIMARY KEY (task_id)
      )`);
    await queryRunner.query(`CREATE INDEX ix_task_history_request_started ON task_history (request_id, started_at)`);
    await queryRunner.query(`CREATE INDEX ix_task_history_request_updated ON task_history (request_id, updated_at)`);
    await queryRunner.query(`CREATE INDEX ix_task_history_request_deploy ON task_history (request_id, deploy_id, started_at)`);
    await queryRunner.query(`CREATE INDEX ix_task_history_request_run ON task_history (request_id, run_id)`);
    await queryRunner.query(`CREATE INDEX ix_task_history_host ON task_history (host, started_at)`);
    await queryRunner.query(`CREATE INDEX ix_task_history_status ON task_history (last_task_status, started_at)`);
    await queryRunner.query(`CREATE INDEX ix_task_history_started ON task_history (started_at)`);
    await queryRunner.query(`CREATE INDEX ix_task_history_updated ON task_history (updated_at)`);

    await queryRunner.query(`
      CREATE TABLE request_history (
        request_id text COLLATE "C" NOT NULL,
        created_at bigint NOT NULL,
        event_type text COLLATE "C" NOT NULL,
        f_user     text,
        message    text,
        request    jsonb NOT NULL,
        CONSTRAINT pk_request_history PRIMARY KEY (request_id, created_at, event_type)
      )`);
    await queryRunner.query(`CREATE INDEX ix_request_history_created ON request_history (created_at)`);

    await queryRunner.query(`
      CREATE TABLE deploy_history (
        request_id        text COLLATE "C" NOT NULL,
        deploy_id         text COLLATE "C" NOT NULL,
        created_at        bigint NOT NULL,
        deploy_state      text,
        deploy_marker     jsonb NOT NULL,
        deploy_result     jsonb,
        deploy            jsonb,
        deploy_statistics jsonb,
        CONSTRAINT pk_deploy_history PRIMARY KEY (request_id, deploy_id)
      )`);
    await queryRunner.query(`CREATE INDEX ix_deploy_history_request_created ON deploy_history (request_id, created_at)`);
    await queryRunner.query(`CREATE INDEX ix_deploy_history_created ON deploy_history (created_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE deploy_history`);
    await queryRunner.query(`DROP TABLE request_history`);
    await queryRunner.query(`DROP TABLE task_history`);
  }
}
