namespace Presence;

/// <summary>The names of the presence endpoints' metrics: one meter, <see cref="MeterName"/>, created from the app's <c>IMeterFactory</c>.</summary>
public static class MatrixPresenceEndpointMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Presence.AspNetCore";

    /// <summary>Requests the presence endpoints refused (4xx and 5xx), tagged <c>endpoint</c> (<c>status.get</c>, <c>status.put</c>, <c>federation.send</c>) and <c>http.response.status_code</c>.</summary>
    public const string RequestsRefused = "presence.http.refused";

    /// <summary>Federation transactions acknowledged as replays and not applied again.</summary>
    public const string TransactionReplays = "presence.http.transaction_replays";
}
