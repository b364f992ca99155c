using Microsoft.Extensions.Logging;

namespace Presence.Internal;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "Refused a federation transaction: {Reason}.")]
    public static partial void TransactionRefused(ILogger logger, string reason);

    [LoggerMessage(2, LogLevel.Debug, "A federation transaction from {Origin} carried {Count} presence entries that were left out.")]
    public static partial void TransactionEntriesDropped(ILogger logger, string origin, int count);

    [LoggerMessage(3, LogLevel.Debug, "Refused a client request body over {MaxBytes} bytes.")]
    public static partial void BodyTooLarge(ILogger logger, int maxBytes);
}
