/**
 * The one table schema. Statements are idempotent (CREATE ... IF NOT EXISTS, INSERT IGNORE), so
 * `migrate` runs safely at every start and from several processes at once.
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
  // Step caching: a train run's inputs (snapshot content hash, parameters with the seed, trainer
  // version) as one key, and the earlier run a cached run took its artifact from. A table of its own
  // rather than columns of `runs`: CREATE ... IF NOT EXISTS also upgrades databases that predate it.
  `CREATE TABLE IF NOT EXISTS run_cache (
    run_id CHAR(36) NOT NULL PRIMARY KEY,
    cache_key CHAR(64) NOT NULL COMMENT 'sha256 over snapshot content hash, train params and trainer version',
    cached_from_run_id CHAR(36) NULL COMMENT 'the run whose artifact this run reuses; NULL when it trained',
    KEY ix_run_cache_key (cache_key)
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
  // Legacy: the data API's group state before it served several datasets (covertype only). No
  // longer written; kept so that the copy below runs on every database, old or new.
  `CREATE TABLE IF NOT EXISTS data_api_groups (
    group_number INT NOT NULL PRIMARY KEY,
    batch_number INT NOT NULL,
    batch_started_at DATETIME(3) NOT NULL
  ) ENGINE=InnoDB`,
  // The data API's group state, per dataset and group. A new table rather than an ALTER of the
  // primary key: CREATE ... IF NOT EXISTS is idempotent and safe under concurrent migrations on
  // MySQL 8 and MariaDB alike.
  `CREATE TABLE IF NOT EXISTS data_api_dataset_groups (
    dataset VARCHAR(64) NOT NULL,
    group_number INT NOT NULL,
    batch_number INT NOT NULL,
    batch_started_at DATETIME(3) NOT NULL,
    PRIMARY KEY (dataset, group_number)
  ) ENGINE=InnoDB`,
  // Carries the groups of a database migrated from the single-dataset data API over (they were all
  // covertype). INSERT IGNORE: a group already present in the new table is never overwritten.
  `INSERT IGNORE INTO data_api_dataset_groups (dataset, group_number, batch_number, batch_started_at)
    SELECT 'covertype', group_number, batch_number, batch_started_at FROM data_api_groups`,
  // Drift summary of each dataset version (the full profile and report are S3 objects next to the
  // snapshot: keys.datasetProfile / keys.datasetDrift).
  `CREATE TABLE IF NOT EXISTS dataset_version_drift (
    dataset VARCHAR(64) NOT NULL,
    version INT NOT NULL,
    profile_key VARCHAR(500) NOT NULL,
    drift_key VARCHAR(500) NOT NULL,
    baseline_version INT NULL COMMENT 'the version compared with; NULL for a first version',
    drifted TINYINT(1) NOT NULL,
    max_psi DOUBLE NOT NULL,
    psi_threshold DOUBLE NOT NULL,
    flagged JSON NOT NULL COMMENT 'features with PSI above the threshold, highest first',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (dataset, version)
  ) ENGINE=InnoDB`,
  // The embedded Step Functions endpoint (src/embedded/stepfunctions/, dev only): its state machines,
  // executions, their history events (GetExecutionHistory) and the results of the Tasks that
  // succeeded (kept so that RedriveExecution does not run them again).
  `CREATE TABLE IF NOT EXISTS sfn_state_machines (
    arn VARCHAR(255) NOT NULL PRIMARY KEY,
    name VARCHAR(80) NOT NULL,
    definition MEDIUMTEXT NOT NULL,
    role_arn VARCHAR(255) NOT NULL,
    type VARCHAR(16) NOT NULL COMMENT 'STANDARD | EXPRESS',
    revision_id CHAR(32) NOT NULL,
    created_at DATETIME(3) NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    UNIQUE KEY uq_sfn_state_machine_name (name)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS sfn_executions (
    arn VARCHAR(255) NOT NULL PRIMARY KEY,
    state_machine_arn VARCHAR(255) NOT NULL,
    name VARCHAR(80) NOT NULL,
    status VARCHAR(16) NOT NULL COMMENT 'RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED',
    definition MEDIUMTEXT NOT NULL COMMENT 'the definition it runs: a redrive runs the same one',
    input MEDIUMTEXT NOT NULL,
    output MEDIUMTEXT NULL,
    error VARCHAR(256) NULL,
    cause TEXT NULL,
    started_at DATETIME(3) NOT NULL,
    stopped_at DATETIME(3) NULL,
    redrive_count INT NOT NULL DEFAULT 0,
    redrive_date DATETIME(3) NULL,
    KEY ix_sfn_executions_machine (state_machine_arn, started_at)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS sfn_history_events (
    execution_arn VARCHAR(255) NOT NULL,
    id INT NOT NULL,
    previous_event_id INT NOT NULL,
    type VARCHAR(40) NOT NULL,
    at DATETIME(3) NOT NULL,
    thread VARCHAR(200) NOT NULL COMMENT 'empty at the top level, <Map>#<index> in a Map iteration',
    details MEDIUMTEXT NULL COMMENT 'the event details object, JSON',
    PRIMARY KEY (execution_arn, id)
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS sfn_task_results (
    execution_arn VARCHAR(255) NOT NULL,
    replay_key VARCHAR(200) NOT NULL COMMENT 'state name and sha256 of the Task input',
    output MEDIUMTEXT NOT NULL,
    PRIMARY KEY (execution_arn, replay_key)
  ) ENGINE=InnoDB`,
  // ---- Monitoring (src/monitoring/) ----
  // One row per object of the prediction log: which writer (a serving process) wrote it and the range
  // of request numbers in it — what a request id (src/monitoring/request-id.ts) is looked up by — and
  // what that writer's full buffer dropped since its previous object. One row per flush, not per
  // prediction: the request path's MySQL cost stays flat.
  `CREATE TABLE IF NOT EXISTS prediction_log_flushes (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    model_name VARCHAR(64) NOT NULL,
    log_key VARCHAR(500) NOT NULL,
    writer_id CHAR(12) NULL,
    seq_first BIGINT NULL,
    seq_last BIGINT NULL,
    records INT NOT NULL,
    dropped INT NOT NULL,
    flushed_at DATETIME(3) NOT NULL,
    UNIQUE KEY uq_prediction_log_key (log_key),
    KEY ix_prediction_log_writer (writer_id, seq_first),
    KEY ix_prediction_log_model (model_name, flushed_at)
  ) ENGINE=InnoDB`,
  // True outcomes, joined to their logged prediction when they arrive (the facts copied from the log).
  `CREATE TABLE IF NOT EXISTS prediction_feedback (
    request_id CHAR(36) NOT NULL,
    row_index INT NOT NULL,
    model_name VARCHAR(64) NOT NULL,
    model_version INT NOT NULL,
    prediction VARCHAR(64) NOT NULL COMMENT 'class value, or the number as text',
    prediction_value DOUBLE NULL COMMENT 'regression: the predicted number',
    challenger_version INT NULL COMMENT 'the shadow challenger scored this row',
    challenger_prediction VARCHAR(64) NULL,
    challenger_value DOUBLE NULL,
    predicted_at DATETIME(3) NOT NULL,
    log_key VARCHAR(500) NOT NULL,
    actual VARCHAR(64) NOT NULL,
    actual_value DOUBLE NULL COMMENT 'regression: the true number',
    received_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (request_id, row_index),
    KEY ix_prediction_feedback_model (model_name, predicted_at)
  ) ENGINE=InnoDB`,
  // Each monitor check: live drift against the champion's training profile, class mix, live metrics.
  `CREATE TABLE IF NOT EXISTS monitor_results (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    model_name VARCHAR(64) NOT NULL,
    champion_version INT NOT NULL,
    challenger_version INT NULL,
    window_start DATETIME(3) NOT NULL,
    window_end DATETIME(3) NOT NULL,
    rows_logged INT NOT NULL,
    rows_dropped INT NOT NULL,
    max_psi DOUBLE NULL,
    drifted TINYINT(1) NULL COMMENT 'NULL: too few rows to tell',
    features JSON NOT NULL COMMENT 'per feature: psi and drifted',
    prediction_mix JSON NOT NULL COMMENT 'predicted class (or regression bin) -> rows',
    live_metric VARCHAR(16) NOT NULL,
    live_value DOUBLE NULL,
    feedback_rows INT NOT NULL,
    challenger_rows INT NOT NULL,
    challenger_agreement DOUBLE NULL,
    challenger_live_value DOUBLE NULL,
    challenger_feedback_rows INT NOT NULL,
    fired JSON NOT NULL COMMENT 'triggers that crossed in this check and what was done',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY ix_monitor_results_model (model_name, created_at)
  ) ENGINE=InnoDB`,
  // Whether each trigger is past its threshold: a trigger fires only on the move from 0 to 1.
  `CREATE TABLE IF NOT EXISTS monitor_triggers (
    model_name VARCHAR(64) NOT NULL,
    trigger_name VARCHAR(32) NOT NULL,
    active TINYINT(1) NOT NULL DEFAULT 0,
    changed_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (model_name, trigger_name)
  ) ENGINE=InnoDB`,
  // promotion.live: a candidate held as challenger until its live numbers meet this (src/monitoring/live-gate.ts).
  `CREATE TABLE IF NOT EXISTS challenger_requirements (
    model_name VARCHAR(64) NOT NULL PRIMARY KEY,
    version INT NOT NULL,
    requirement JSON NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
  ) ENGINE=InnoDB`,
];
