using Microsoft.AspNetCore.Http;

namespace Presence;

/// <summary>
/// The host's authentication, which the presence endpoints delegate to: who a client's access token belongs to, and which
/// server signed a federation request. The endpoints never decide this themselves.
/// </summary>
public interface IMatrixAuthenticator
{
    /// <summary>
    /// Resolves the local user and device an access token belongs to. The endpoints have already taken the token from the
    /// <c>Authorization: Bearer</c> header or the <c>access_token</c> query parameter; a request with neither is refused with
    /// 401 <c>M_MISSING_TOKEN</c> before this is called.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="accessToken">The access token the request carries.</param>
    /// <param name="cancellationToken">The request's cancellation.</param>
    /// <returns>The client, or <see langword="null"/> when the token is not known (the request is refused with 401 <c>M_UNKNOWN_TOKEN</c>).</returns>
    ValueTask<MatrixClient?> AuthenticateClientAsync(HttpContext context, string accessToken, CancellationToken cancellationToken);

    /// <summary>
    /// Verifies a federation request (its <c>X-Matrix</c> authorization signs the method, path, origin, destination and
    /// body) and returns the server that sent it. Called only by the federation handler that
    /// <see cref="MatrixPresenceEndpointOptions.MapFederation"/> maps.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="body">The request body, already read within <see cref="MatrixPresenceEndpointOptions.MaxFederationBodyBytes"/>.</param>
    /// <param name="cancellationToken">The request's cancellation.</param>
    /// <returns>The authenticated origin, or <see langword="null"/> when the request is not authentic (refused with 401 <c>M_UNAUTHORIZED</c>).</returns>
    ValueTask<ServerName?> AuthenticateServerAsync(HttpContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken);
}
