/**
 * An error of the Step Functions API, in AWS's shape: HTTP 400 with `{"__type": type, "message": …}`.
 * The type names are the `errors` of botocore's `stepfunctions` service model.
 */
export class SfnApiError extends Error {
  readonly type: string;
  readonly status: number;
  constructor(type: string, message: string, status = 400) {
    super(message);
    this.name = type;
    this.type = type;
    this.status = status;
  }
}

export const executionDoesNotExist = (arn: string) => new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
export const stateMachineDoesNotExist = (arn: string) => new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
