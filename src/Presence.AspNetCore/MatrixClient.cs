namespace Presence;

/// <summary>The local user and device a client request was made by, as the host's <see cref="IMatrixAuthenticator"/> resolved them.</summary>
public sealed class MatrixClient
{
    /// <summary>Creates the identity of an authenticated client.</summary>
    /// <param name="user">The local user the access token belongs to.</param>
    /// <param name="deviceId">The device the access token belongs to.</param>
    /// <exception cref="ArgumentException">The device ID is empty.</exception>
    public MatrixClient(UserId user, string deviceId)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        User = user;
        DeviceId = deviceId;
    }

    /// <summary>Gets the local user.</summary>
    public UserId User { get; }

    /// <summary>Gets the device.</summary>
    public string DeviceId { get; }
}
