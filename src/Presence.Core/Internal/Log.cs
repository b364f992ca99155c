using Microsoft.Extensions.Logging;

namespace Presence.Internal;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Presence engine started for {ServerName} with {UserCount} users loaded from the store.")]
    public static partial void EngineStarted(ILogger logger, string serverName, int userCount);

    [LoggerMessage(2, LogLevel.Error, "Loading presence from the store failed.")]
    public static partial void StoreLoadFailed(ILogger logger, Exception exception);

    [LoggerMessage(3, LogLevel.Warning, "Saving {RecordCount} presence records failed; retrying in {RetryDelay}.")]
    public static partial void StoreSaveFailed(ILogger logger, int recordCount, TimeSpan retryDelay, Exception exception);

    [LoggerMessage(4, LogLevel.Error, "Presence engine stopped with {RecordCount} records not saved: the store did not accept them in time.")]
    public static partial void StoreSaveAbandoned(ILogger logger, int recordCount, Exception? exception);

    [LoggerMessage(5, LogLevel.Error, "A presence timer callback failed; the engine continues.")]
    public static partial void TimerCallbackFailed(ILogger logger, Exception exception);

    [LoggerMessage(6, LogLevel.Warning, "The membership view failed; presence of the affected user is not delivered until the next change.")]
    public static partial void MembershipLookupFailed(ILogger logger, Exception exception);

    [LoggerMessage(7, LogLevel.Warning, "A user reached the cap of {MaxDevices} connected devices; the least recently seen device was dropped.")]
    public static partial void DeviceCapReached(ILogger logger, int maxDevices);

    [LoggerMessage(8, LogLevel.Debug, "Rejected presence input: {Reason}.")]
    public static partial void InputRejected(ILogger logger, string reason);

    [LoggerMessage(10, LogLevel.Error, "Delivering a presence change failed; the engine continues.")]
    public static partial void DeliveryFailed(ILogger logger, Exception exception);

    [LoggerMessage(9, LogLevel.Information, "Presence engine stopped.")]
    public static partial void EngineStopped(ILogger logger);

    [LoggerMessage(11, LogLevel.Error, "The outbound scheduler's timer failed; it continues.")]
    public static partial void OutboundFailed(ILogger logger, Exception exception);

    [LoggerMessage(12, LogLevel.Warning, "Sending presence to {Server} failed ({Failures} in a row); retrying with backoff.")]
    public static partial void SendFailed(ILogger logger, string server, int failures, Exception exception);

    [LoggerMessage(13, LogLevel.Error, "Sending presence to {Server} kept failing past the horizon: {Dropped} queued entries dropped, its subscriptions ended.")]
    public static partial void PeerGaveUp(ILogger logger, string server, int dropped, Exception exception);

    [LoggerMessage(15, LogLevel.Error, "Saving a presence-list change failed; the caller sees the error and may retry.")]
    public static partial void ListSaveFailed(ILogger logger, Exception exception);

    [LoggerMessage(16, LogLevel.Warning, "Reading {UserCount} presence records failed; retrying in {RetryDelay}.")]
    public static partial void StoreLoadRetrying(ILogger logger, int userCount, TimeSpan retryDelay, Exception exception);

    [LoggerMessage(14, LogLevel.Debug, "Dropped {Count} inbound presence entries from {Server}: {Reason}.")]
    public static partial void InboundDropped(ILogger logger, string server, string reason, int count);

    [LoggerMessage(40, LogLevel.Error, "Saving peer subscriptions failed; they are kept and written with the next change.")]
    public static partial void PeerSubscriptionSaveFailed(ILogger logger, Exception exception);
}
