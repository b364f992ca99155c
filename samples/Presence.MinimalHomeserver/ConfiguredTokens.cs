namespace Presence.Minimal;

/// <summary>Authentication: access tokens from configuration (<c>"Tokens": {"secret-alice": "@alice:localhost"}</c>), one device per token. A homeserver asks its own token store.</summary>
internal sealed class ConfiguredTokens(IConfiguration configuration) : IMatrixAuthenticator
{
    public ValueTask<MatrixClient?> AuthenticateClientAsync(HttpContext context, string accessToken, CancellationToken cancellationToken) =>
        ValueTask.FromResult(configuration[$"Tokens:{accessToken}"] is { } user && UserId.TryParse(user, out var id)
            ? new MatrixClient(id, "DEV-" + id.Localpart)
            : null);

    public ValueTask<ServerName?> AuthenticateServerAsync(HttpContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
        ValueTask.FromResult<ServerName?>(null); // no federation in this sample
}
