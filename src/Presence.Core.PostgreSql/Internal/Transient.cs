using System.Net.Sockets;
using Npgsql;

namespace Presence.PostgreSql.Internal;

/// <summary>Which failures may pass by themselves (retry later) and which will not (a bug, a permission, a schema mismatch).</summary>
internal static class Transient
{
    public static bool Is(Exception exception) => exception switch
    {
        PostgreSqlPresenceStoreException ours => ours.IsTransient,
        NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is IOException or SocketException or TimeoutException,
        TimeoutException or IOException or SocketException => true,
        OperationCanceledException => true, // our own deadline (FlushBound); a caller's cancellation is never classified
        _ => false,
    };
}
