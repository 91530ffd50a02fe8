// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title ARKA Engine transparency-log anchor
/// @notice Records the root hash of an ARKA transparency log (RFC 9162) at a tree size.
///         Only the deploying account (the log operator) may anchor; anyone can read.
contract ArkaAnchor {
    address public immutable operator;

    /// @notice Block number in which a root was first anchored (0 if never).
    mapping(bytes32 => uint256) public anchoredIn;
    /// @notice Tree size a root was anchored with.
    mapping(bytes32 => uint64) public treeSizeOf;
    /// @notice Largest tree size anchored so far (a log only grows).
    uint64 public latestTreeSize;

    event Anchored(bytes32 indexed root, uint64 treeSize, uint256 blockNumber);

    error NotOperator();
    error TreeShrank(uint64 latest, uint64 given);

    constructor() {
        operator = msg.sender;
    }

    function anchor(bytes32 root, uint64 treeSize) external {
        if (msg.sender != operator) revert NotOperator();
        if (treeSize < latestTreeSize) revert TreeShrank(latestTreeSize, treeSize);
        if (anchoredIn[root] == 0) {
            anchoredIn[root] = block.number;
            treeSizeOf[root] = treeSize;
        }
        latestTreeSize = treeSize;
        emit Anchored(root, treeSize, block.number);
    }
}
