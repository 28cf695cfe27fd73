/**
 * The one table schema. Statements are idempotent (CREATE ... IF NOT EXISTS), so `migrate` runs
 * safely at every start and from several processes at once.
 */
export const schemaStatements: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS raw_rows (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    dataset VARCHAR(64) NOT NULL,
    row_key CHAR(64) NOT NULL COMMENT 'sha256 over the feature values: the de-duplication key',
    row_values JSON NOT NULL COMMENT 'typed values in the spec column order',
    batch_id BIGINT NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_raw_rows_key (dataset, row_key)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS rejected_rows (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    dataset VARCHAR(64) NOT NULL,
    batch_id BIGINT NOT NULL,
    row_values JSON NOT NULL COMMENT 'the row exactly as received',
    reason VARCHAR(500) NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY ix_rejected_batch (batch_id)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS fetched_batches (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    execution_id VARCHAR(200) NOT NULL,
    fetch_index INT NOT NULL,
    dataset VARCHAR(64) NOT NULL,
    group_number INT NOT NULL,
    batch_number INT NOT NULL,
    rows_received INT NOT NULL,
    rows_new INT NOT NULL,
    rows_rejected INT NOT NULL,
    fetched_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_fetch (execution_id, fetch_index)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS dataset_versions (
    dataset VARCHAR(64) NOT NULL,
    version INT NOT NULL,
    content_hash CHAR(64) NOT NULL,
    manifest_key VARCHAR(500) NOT NULL,
    rows_total INT NOT NULL,
    rows_train INT NOT NULL,
    rows_validation INT NOT NULL,
    rows_test INT NOT NULL,
    rows_rejected INT NOT NULL,
    execution_id VARCHAR(200) NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (dataset, version),
    UNIQUE KEY uq_dataset_content (dataset, content_hash)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS runs (
    run_id CHAR(36) NOT NULL PRIMARY KEY,
    parent_run_id CHAR(36) NULL,
    execution_id VARCHAR(200) NULL,
    dataset VARCHAR(64) NOT NULL,
    dataset_version INT NOT NULL,
    params JSON NOT NULL,
    metrics JSON NULL,
    status VARCHAR(16) NOT NULL,
    artifact_key VARCHAR(500) NULL,
    artifact_sha256 CHAR(64) NULL,
    train_seconds DOUBLE NULL,
    started_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    ended_at DATETIME(3) NULL,
    KEY ix_runs_parent (parent_run_id),
    KEY ix_runs_dataset (dataset, dataset_version)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS registered_models (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS model_versions (
    model_name VARCHAR(64) NOT NULL,
    version INT NOT NULL,
    run_id CHAR(36) NOT NULL,
    dataset VARCHAR(64) NOT NULL,
    dataset_version INT NOT NULL,
    artifact_key VARCHAR(500) NOT NULL,
    artifact_sha256 CHAR(64) NOT NULL,
    input_schema JSON NOT NULL,
    test_metrics JSON NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (model_name, version),
    UNIQUE KEY uq_model_run (model_name, run_id)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS model_aliases (
    model_name VARCHAR(64) NOT NULL,
    alias VARCHAR(32) NOT NULL,
    version INT NOT NULL,
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (model_name, alias)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS promotions (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    request_id VARCHAR(200) NOT NULL COMMENT 'execution id or rollback request: makes a retried promote a no-op',
    model_name VARCHAR(64) NOT NULL,
    action VARCHAR(16) NOT NULL COMMENT 'promoted | rejected | rollback',
    candidate_version INT NOT NULL,
    previous_version INT NULL,
    metric VARCHAR(32) NULL,
    candidate_score DOUBLE NULL,
    champion_score DOUBLE NULL,
    min_gain DOUBLE NULL,
    reason VARCHAR(1000) NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_promotion_request (model_name, request_id)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS pipeline_failures (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    execution_id VARCHAR(200) NOT NULL,
    state VARCHAR(100) NULL,
    error VARCHAR(200) NOT NULL,
    cause TEXT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_failure_execution (execution_id)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS data_api_groups (
    group_number INT NOT NULL PRIMARY KEY,
    batch_number INT NOT NULL,
    batch_started_at DATETIME(3) NOT NULL
  ) ENGINE=InnoDB`,
];
