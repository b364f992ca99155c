using Microsoft.AspNetCore.Http;

namespace Presence.Sample;

/// <summary>
/// The sample's authentication: the access token of <c>@alice</c> is <c>token-alice</c> (device <c>DEV-alice</c>), and a
/// federation request's origin is read from its <c>X-Matrix</c> header WITHOUT checking the signature — loopback only.
/// </summary>
internal sealed class SampleAuthenticator(ServerName server, IEnumerable<string> localparts) : IMatrixAuthenticator
{
    private readonly Dictionary<string, MatrixClient> _tokens = localparts.ToDictionary(
        SampleHomeserver.TokenFor, localpart => new MatrixClient(UserId.Create(localpart, server), "DEV-" + localpart), StringComparer.Ordinal);

    public ValueTask<MatrixClient?> AuthenticateClientAsync(HttpContext context, string accessToken, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_tokens.GetValueOrDefault(accessToken));

    public ValueTask<ServerName?> AuthenticateServerAsync(HttpContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        // X-Matrix origin="b.localhost",destination="a.localhost",key="ed25519:0",sig="..." — a real server verifies sig over the body.
        string header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("X-Matrix ", StringComparison.Ordinal))
        {
            return ValueTask.FromResult<ServerName?>(null);
        }

        foreach (var part in header["X-Matrix ".Length..].Split(','))
        {
            var pair = part.Split('=', 2);
            if (pair.Length == 2 && pair[0].Trim() == "origin" && ServerName.TryParse(pair[1].Trim().Trim('"'), out var origin, out _))
            {
                return ValueTask.FromResult<ServerName?>(origin);
            }
        }

        return ValueTask.FromResult<ServerName?>(null);
    }

    /// <summary>The header the sample's transport sends.</summary>
    public static string Header(ServerName origin, ServerName destination) => $"X-Matrix origin=\"{origin}\",destination=\"{destination}\",key=\"ed25519:sample\",sig=\"unsigned\"";
}
