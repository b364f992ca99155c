using Microsoft.Extensions.Logging;

namespace Presence.PostgreSql.Internal;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "PostgreSQL presence store: schema {Schema} migrated from version {From} to {To}.")]
    public static partial void Migrated(ILogger logger, string schema, int from, int to);

    [LoggerMessage(2, LogLevel.Warning, "PostgreSQL presence store: writing {RowCount} presence records failed (transient: {Transient}); they are kept and retried in {RetryDelay}.")]
    public static partial void FlushFailed(ILogger logger, int rowCount, bool transient, TimeSpan retryDelay, Exception exception);

    [LoggerMessage(3, LogLevel.Warning, "PostgreSQL presence store: {Dropped} presence records refused, {MaxPending} already wait for the database (MaxPendingRows); their save fails and the engine keeps them.")]
    public static partial void RowsDropped(ILogger logger, int dropped, int maxPending);

    [LoggerMessage(4, LogLevel.Information, "PostgreSQL presence store: the database is reachable again after {Failures} failures.")]
    public static partial void Recovered(ILogger logger, int failures);

    [LoggerMessage(5, LogLevel.Error, "PostgreSQL presence store: {Operation} failed (transient: {Transient}).")]
    public static partial void OperationFailed(ILogger logger, string operation, bool transient, Exception exception);

    [LoggerMessage(6, LogLevel.Warning, "PostgreSQL presence store: a stored row of {Table} is invalid and was skipped: {Reason}.")]
    public static partial void BadRow(ILogger logger, string table, string reason);

    [LoggerMessage(7, LogLevel.Warning, "PostgreSQL presence store: {RowCount} presence records could not be written before the store was disposed.")]
    public static partial void AbandonedOnDispose(ILogger logger, int rowCount);
}
