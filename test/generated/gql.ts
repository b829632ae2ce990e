/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation SignUp {\n  signUp {\n    token\n    viewer {\n      id\n    }\n  }\n}\n\nquery Viewer {\n  viewer {\n    id\n  }\n}": typeof types.SignUpDocument,
    "fragment PostFields on Post {\n  id\n  body\n  createdAt\n  isMine\n}\n\nfragment CommentFields on Comment {\n  id\n  postId\n  body\n  createdAt\n  isMine\n}\n\nmutation CreatePost($body: String!) {\n  createPost(body: $body) {\n    ...PostFields\n  }\n}\n\nmutation AddComment($postId: ID!, $body: String!) {\n  addComment(postId: $postId, body: $body) {\n    ...CommentFields\n  }\n}\n\nquery Post($id: ID!) {\n  post(id: $id) {\n    ...PostFields\n    comments {\n      ...CommentFields\n    }\n  }\n}\n\nquery Feed($first: Int, $after: String) {\n  feed(first: $first, after: $after) {\n    edges {\n      cursor\n      node {\n        ...PostFields\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": typeof types.PostFieldsFragmentDoc,
};
const documents: Documents = {
    "mutation SignUp {\n  signUp {\n    token\n    viewer {\n      id\n    }\n  }\n}\n\nquery Viewer {\n  viewer {\n    id\n  }\n}": types.SignUpDocument,
    "fragment PostFields on Post {\n  id\n  body\n  createdAt\n  isMine\n}\n\nfragment CommentFields on Comment {\n  id\n  postId\n  body\n  createdAt\n  isMine\n}\n\nmutation CreatePost($body: String!) {\n  createPost(body: $body) {\n    ...PostFields\n  }\n}\n\nmutation AddComment($postId: ID!, $body: String!) {\n  addComment(postId: $postId, body: $body) {\n    ...CommentFields\n  }\n}\n\nquery Post($id: ID!) {\n  post(id: $id) {\n    ...PostFields\n    comments {\n      ...CommentFields\n    }\n  }\n}\n\nquery Feed($first: Int, $after: String) {\n  feed(first: $first, after: $after) {\n    edges {\n      cursor\n      node {\n        ...PostFields\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": types.PostFieldsFragmentDoc,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SignUp {\n  signUp {\n    token\n    viewer {\n      id\n    }\n  }\n}\n\nquery Viewer {\n  viewer {\n    id\n  }\n}"): (typeof documents)["mutation SignUp {\n  signUp {\n    token\n    viewer {\n      id\n    }\n  }\n}\n\nquery Viewer {\n  viewer {\n    id\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment PostFields on Post {\n  id\n  body\n  createdAt\n  isMine\n}\n\nfragment CommentFields on Comment {\n  id\n  postId\n  body\n  createdAt\n  isMine\n}\n\nmutation CreatePost($body: String!) {\n  createPost(body: $body) {\n    ...PostFields\n  }\n}\n\nmutation AddComment($postId: ID!, $body: String!) {\n  addComment(postId: $postId, body: $body) {\n    ...CommentFields\n  }\n}\n\nquery Post($id: ID!) {\n  post(id: $id) {\n    ...PostFields\n    comments {\n      ...CommentFields\n    }\n  }\n}\n\nquery Feed($first: Int, $after: String) {\n  feed(first: $first, after: $after) {\n    edges {\n      cursor\n      node {\n        ...PostFields\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}"): (typeof documents)["fragment PostFields on Post {\n  id\n  body\n  createdAt\n  isMine\n}\n\nfragment CommentFields on Comment {\n  id\n  postId\n  body\n  createdAt\n  isMine\n}\n\nmutation CreatePost($body: String!) {\n  createPost(body: $body) {\n    ...PostFields\n  }\n}\n\nmutation AddComment($postId: ID!, $body: String!) {\n  addComment(postId: $postId, body: $body) {\n    ...CommentFields\n  }\n}\n\nquery Post($id: ID!) {\n  post(id: $id) {\n    ...PostFields\n    comments {\n      ...CommentFields\n    }\n  }\n}\n\nquery Feed($first: Int, $after: String) {\n  feed(first: $first, after: $after) {\n    edges {\n      cursor\n      node {\n        ...PostFields\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;